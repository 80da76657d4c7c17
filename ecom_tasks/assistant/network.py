"""The intent network: a bag of hashed n-gram embeddings, a hidden layer, and a softmax over intents.

Pretrained self-supervised (:func:`pretrain`: two views of each text, with a share of its n-gram ids
dropped, pulled together against the rest of the batch, SimCSE-style) on the shop's own text, then
fine-tuned on the intents (:func:`fine_tune`). Its weights are exported as arrays and served by
:func:`forward` in NumPy, so answering a message needs no TensorFlow.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from ecom_tasks.assistant.config import AssistantConfig

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
log = logging.getLogger(__name__)

EMBEDDING, HIDDEN, OUTPUT = "embedding", "hidden", "intents"
WEIGHT_NAMES = ("embedding", "hidden_kernel", "hidden_bias", "output_kernel", "output_bias")


@dataclass
class Encoder:
    """The shared part: ids -> masked mean of n-gram embeddings -> hidden layer."""

    model: object  # tf_keras.Model
    embedding: object
    hidden: object


def build_encoder(config: AssistantConfig) -> Encoder:
    import tensorflow as tf
    import tf_keras as keras

    ids = keras.Input(shape=(config.max_ids,), dtype="int32", name="ids")
    embedding = keras.layers.Embedding(config.buckets, config.embedding_dim, name=EMBEDDING)

    def masked_mean(inputs: list) -> tf.Tensor:
        # Padding (id 0) does not count; a text with no id at all (a view with every id dropped)
        # pools to zeros instead of 0/0, which turned the whole network into NaN.
        vectors, raw = inputs
        mask = tf.cast(raw > 0, vectors.dtype)[:, :, None]
        return tf.reduce_sum(vectors * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)

    # tanh, not relu: under the contrastive loss dead relu units collapsed every text to one point.
    hidden = keras.layers.Dense(config.hidden_dim, activation="tanh", name=HIDDEN)
    pooled = keras.layers.Lambda(masked_mean, name="masked_mean")([embedding(ids), ids])
    return Encoder(keras.Model(ids, hidden(pooled)), embedding, hidden)


def pretrain(encoder: Encoder, ids: np.ndarray, config: AssistantConfig) -> list[float]:
    """Contrastive pretraining on unlabelled texts' ids; returns the loss per epoch."""
    import tensorflow as tf
    import tf_keras as keras

    optimizer = keras.optimizers.Adam(config.learning_rate)
    rng = np.random.default_rng(config.seed)
    model = encoder.model

    @tf.function
    def step(view_a: tf.Tensor, view_b: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            a = tf.math.l2_normalize(model(view_a, training=True), axis=1)
            b = tf.math.l2_normalize(model(view_b, training=True), axis=1)
            logits = tf.matmul(a, b, transpose_b=True) / config.temperature
            labels = tf.range(tf.shape(a)[0])
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
                + keras.losses.sparse_categorical_crossentropy(labels, tf.transpose(logits), from_logits=True)
            )
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    ids = ids[(ids > 0).any(axis=1)]  # texts with no word (symbols only) teach nothing
    losses = []
    size = max(2, config.batch_size * 2)  # more in-batch negatives
    for _ in range(config.pretrain_epochs):
        order = rng.permutation(len(ids))
        total, batches = 0.0, 0
        for start in range(0, len(order) - 1, size):
            batch = ids[order[start : start + size]]
            if len(batch) < 2:
                continue
            view_a = np.where(rng.random(batch.shape) < config.id_dropout, 0, batch).astype(np.int32)
            view_b = np.where(rng.random(batch.shape) < config.id_dropout, 0, batch).astype(np.int32)
            total += float(step(tf.constant(view_a), tf.constant(view_b)))
            batches += 1
        losses.append(total / max(batches, 1))
    log.info("assistant pretraining: contrastive loss per epoch %s", [round(v, 4) for v in losses])
    return losses


def fine_tune(
    encoder: Encoder,
    x: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray],
    n_classes: int,
    config: AssistantConfig,
) -> dict[str, np.ndarray]:
    """Train the encoder with a softmax over ``n_classes``; the best epoch (validation loss) is kept.

    Returns:
        The network's weights by :data:`WEIGHT_NAMES`, for :func:`forward`.
    """
    import tf_keras as keras

    keras.utils.set_random_seed(config.seed)
    drop = keras.layers.Dropout(0.2)(encoder.model.output)
    output = keras.layers.Dense(n_classes, activation="softmax", name=OUTPUT)
    model = keras.Model(encoder.model.input, output(drop))
    model.compile(keras.optimizers.Adam(config.learning_rate), "sparse_categorical_crossentropy")
    stop = keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)
    model.fit(x[0], x[1], validation_data=valid, epochs=config.epochs, batch_size=config.batch_size,
              callbacks=[stop], verbose=0, shuffle=True)  # fmt: skip
    hidden_kernel, hidden_bias = encoder.hidden.get_weights()
    output_kernel, output_bias = output.get_weights()
    return dict(zip(WEIGHT_NAMES, (encoder.embedding.get_weights()[0], hidden_kernel, hidden_bias,
                                   output_kernel, output_bias), strict=True))  # fmt: skip


def forward(weights: dict[str, np.ndarray], ids: np.ndarray) -> np.ndarray:
    """Intent probabilities of padded id rows (NumPy; equals the Keras model at inference)."""
    mask = (ids > 0).astype(np.float32)
    vectors = weights["embedding"][ids] * mask[:, :, None]
    pooled = vectors.sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
    hidden = np.tanh(pooled @ weights["hidden_kernel"] + weights["hidden_bias"])
    logits = hidden @ weights["output_kernel"] + weights["output_bias"]
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)
