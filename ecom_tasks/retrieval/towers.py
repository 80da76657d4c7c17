"""The two towers: builders that take vocabularies and sizes and return Keras models.

The item (candidate) tower embeds an item as id + category + mean of its title tokens, so an item
without interactions still gets a useful vector. The query tower reads the user's recent history
through the *same* item vectors (tied embeddings, as SASRec does) with causal self-attention, and
adds a user-id embedding (with an out-of-vocabulary row) and projected profile features. Both
towers output L2-normalised vectors; string lookups and title tokenisation happen inside them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow as tf

from ecom_tasks.contract import CATEGORY, ITEM_ID, TITLE
from ecom_tasks.retrieval.config import (
    NUM_RESERVED,
    PAD,
    SERVING_FEATURES,
    SERVING_HISTORY,
    SERVING_USER_ID,
    RetrievalConfig,
)
from ecom_tasks.retrieval.data import Vocabularies
from ecom_tasks.retrieval.layers import CausalSelfAttention, string_lookup

# Embedding tables whose rows follow a vocabulary: warm start maps them row by row.
VOCAB_TABLES: dict[str, str] = {
    "item_id_embedding": "items",
    "category_embedding": "categories",
    "title_token_embedding": "title_tokens",
    "user_id_embedding": "users",
}


def _strings(values: pd.Series) -> np.ndarray:
    return values.astype("string").fillna(PAD).to_numpy(dtype=object).astype(str)


class ItemTower(tf.keras.Model):
    """Item id, category and title -> item vector (see :func:`build_item_tower`)."""

    def __init__(self, vocabs: Vocabularies, config: RetrievalConfig, name: str = "item_tower") -> None:
        super().__init__(name=name)
        d = config.embedding_dim
        self.item_lookup = string_lookup(vocabs.items, "item_lookup")
        self.category_lookup = string_lookup(vocabs.categories, "category_lookup")
        self.has_categories = len(vocabs.categories) > NUM_RESERVED
        self.has_titles = len(vocabs.title_tokens) > NUM_RESERVED
        self.title_length = config.title_length
        if self.has_titles:
            self.title_vectorizer = tf.keras.layers.TextVectorization(
                vocabulary=vocabs.title_tokens[NUM_RESERVED:],
                output_sequence_length=config.title_length,
                name="title_vectorizer",
            )
        init = tf.keras.initializers.RandomNormal(stddev=0.05, seed=config.seed)
        self.id_embedding = tf.keras.layers.Embedding(len(vocabs.items), d, init, name="item_id_embedding")
        self.category_embedding = tf.keras.layers.Embedding(
            len(vocabs.categories), d, init, name="category_embedding"
        )
        self.title_embedding = tf.keras.layers.Embedding(
            len(vocabs.title_tokens), d, init, name="title_token_embedding"
        )
        # Category and title token rows of every vocabulary item, filled by set_catalogue().
        self.item_category = tf.Variable(tf.zeros([len(vocabs.items)], tf.int64), trainable=False)
        self.item_title = tf.Variable(
            tf.zeros([len(vocabs.items), config.title_length], tf.int64), trainable=False
        )

    def _title_rows(self, titles: tf.Tensor) -> tf.Tensor:
        if not self.has_titles:
            return tf.zeros([tf.shape(titles)[0], self.title_length], tf.int64)
        return self.title_vectorizer(titles)

    def set_catalogue(self, items: pd.DataFrame) -> None:
        """Fill the category/title tables from the catalogue (``item_id, category, title``)."""
        if items is None or not len(items):
            return
        rows = self.item_lookup(_strings(items[ITEM_ID])).numpy()
        known = rows >= NUM_RESERVED
        cats = _strings(items[CATEGORY]) if CATEGORY in items else np.full(len(items), PAD)
        titles = _strings(items[TITLE]) if TITLE in items else np.full(len(items), PAD)
        cat_rows = self.category_lookup(cats).numpy()
        title_rows = self._title_rows(tf.constant(titles)).numpy()
        table_c, table_t = self.item_category.numpy(), self.item_title.numpy()
        table_c[rows[known]] = cat_rows[known]
        table_t[rows[known]] = title_rows[known]
        self.item_category.assign(table_c)
        self.item_title.assign(table_t)

    def encode(self, rows: tf.Tensor, category_rows: tf.Tensor, title_rows: tf.Tensor) -> tf.Tensor:
        """Raw (unnormalised) item vectors from lookup rows; any leading shape."""
        vec = self.id_embedding(rows)
        if self.has_categories:
            vec += self.category_embedding(category_rows) * tf.cast(category_rows > 0, tf.float32)[..., None]
        if self.has_titles:
            tok_mask = tf.cast(title_rows > 0, tf.float32)[..., None]
            tokens = tf.reduce_sum(self.title_embedding(title_rows) * tok_mask, axis=-2)
            vec += tokens / tf.maximum(tf.reduce_sum(tok_mask, axis=-2), 1.0)
        return vec

    def item_vectors(self, rows: tf.Tensor) -> tf.Tensor:
        """Raw vectors of vocabulary rows (history input of the query tower)."""
        return self.encode(rows, tf.gather(self.item_category, rows), tf.gather(self.item_title, rows))

    def candidate_embeddings(self, rows: tf.Tensor) -> tf.Tensor:
        """L2-normalised candidate embeddings of vocabulary rows."""
        return tf.math.l2_normalize(self.item_vectors(rows), axis=-1)

    def call(self, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
        """Candidate embeddings from raw features ``{item_id, category, title}`` (strings, [n])."""
        rows = self.item_lookup(inputs[ITEM_ID])
        vec = self.encode(rows, self.category_lookup(inputs[CATEGORY]), self._title_rows(inputs[TITLE]))
        return tf.math.l2_normalize(vec, axis=-1)


class QueryTower(tf.keras.Model):
    """User id, profile features and recent history -> query vector (see :func:`build_query_tower`)."""

    def __init__(
        self,
        vocabs: Vocabularies,
        config: RetrievalConfig,
        item_tower: ItemTower,
        feature_mean: np.ndarray,
        feature_std: np.ndarray,
        name: str = "query_tower",
    ) -> None:
        super().__init__(name=name)
        d, self.window = config.embedding_dim, config.max_history
        self.bos_row = vocabs.bos_row
        self.item_tower = item_tower
        init = tf.keras.initializers.RandomNormal(stddev=0.05, seed=config.seed + 1)
        self.position_embedding = tf.keras.layers.Embedding(self.window, d, init, name="position_embedding")
        self.input_dropout = tf.keras.layers.Dropout(config.dropout, seed=config.seed)
        self.blocks = []
        for i in range(config.num_blocks):
            self.blocks.append(
                (
                    tf.keras.layers.LayerNormalization(name=f"block{i}_attention_norm"),
                    CausalSelfAttention(
                        d, config.num_heads, config.dropout, config.seed + i, f"block{i}_attention"
                    ),
                    tf.keras.layers.LayerNormalization(name=f"block{i}_ffn_norm"),
                    tf.keras.layers.Dense(d, activation="relu", name=f"block{i}_ffn_1"),
                    tf.keras.layers.Dense(d, name=f"block{i}_ffn_2"),
                    tf.keras.layers.Dropout(config.dropout, seed=config.seed + i + 1),
                )
            )
        self.final_norm = tf.keras.layers.LayerNormalization(name="final_norm")
        self.use_user_id = config.use_user_id
        self.user_lookup = string_lookup(vocabs.users, "user_lookup")
        if self.use_user_id:
            self.user_embedding = tf.keras.layers.Embedding(
                len(vocabs.users), d, init, name="user_id_embedding"
            )
        self.num_features = len(feature_mean)
        if self.num_features:
            self.feature_mean = tf.constant(feature_mean, tf.float32)
            self.feature_std = tf.constant(feature_std, tf.float32)
            self.feature_projection = tf.keras.layers.Dense(d, name="user_feature_projection")

    def encode_sequence(
        self,
        tokens: tf.Tensor,
        users: tf.Tensor,
        features: tf.Tensor,
        training: bool = False,
        last: tf.Tensor | None = None,
    ) -> tf.Tensor:
        """``[b, l, d]`` raw query vectors: position ``j`` has read tokens ``0..j`` (causal).

        With ``last`` ([b] positions) only those positions are computed in the final block and
        ``[b, 1, d]`` is returned: serving and evaluation need nothing else.
        """
        length = tf.shape(tokens)[1]
        x = self.item_tower.item_vectors(tokens) + self.position_embedding(tf.range(length))[None]
        x = self.input_dropout(x, training=training)
        for i, (attn_norm, attention, ffn_norm, ffn_1, ffn_2, dropout) in enumerate(self.blocks):
            final = last is not None and i == len(self.blocks) - 1
            attended = attention(attn_norm(x), training=training, positions=last if final else None)
            if final:
                x = tf.gather(x, last, batch_dims=1)[:, None, :]
            x += dropout(attended, training=training)
            x += dropout(ffn_2(ffn_1(ffn_norm(x))), training=training)
        x = self.final_norm(x)
        if self.use_user_id:
            x += self.user_embedding(users)[:, None, :]
        if self.num_features:
            scaled = (tf.cast(features, tf.float32) - self.feature_mean) / self.feature_std
            scaled = tf.where(tf.math.is_nan(scaled), tf.zeros_like(scaled), scaled)  # unknown -> mean
            x += self.feature_projection(scaled)[:, None, :]
        return x

    def encode_last(
        self,
        tokens: tf.Tensor,
        lengths: tf.Tensor,
        users: tf.Tensor,
        features: tf.Tensor,
        training: bool = False,
    ) -> tf.Tensor:
        """``[b, d]`` normalised query vectors read at each window's last position."""
        last = tf.cast(lengths, tf.int32) - 1
        seq = self.encode_sequence(tokens, users, features, training=training, last=last)
        return tf.math.l2_normalize(seq[:, 0, :], axis=-1)

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        """Serving path: ``{user_id: [b], history: [b, n] ("" padded, oldest first), user_features}``.

        ``training`` turns dropout on (task heads fine-tuning the tower call it that way).
        """
        history = self.item_tower.item_lookup(inputs[SERVING_HISTORY])
        batch = tf.shape(history)[0]
        n = tf.reduce_sum(tf.cast(history > 0, tf.int32), axis=1) + 1  # + BOS
        tokens = tf.concat([tf.fill([batch, 1], tf.cast(self.bos_row, history.dtype)), history], axis=1)
        # Keep the newest `window` tokens of each row, left-aligned, and run only as many
        # positions as the longest row needs (serving cost follows the batch's history lengths).
        lengths = tf.minimum(n, self.window)
        steps = tf.range(tf.maximum(tf.reduce_max(lengths), 1))[None, :]
        start = tf.maximum(n - self.window, 0)[:, None]
        index = tf.minimum(start + steps, tf.shape(tokens)[1] - 1)
        window = tf.where(steps < lengths[:, None], tf.gather(tokens, index, batch_dims=1), 0)
        users = self.user_lookup(inputs[SERVING_USER_ID])
        return self.encode_last(window, lengths, users, inputs[SERVING_FEATURES], training=training)


def build_item_tower(vocabs: Vocabularies, config: RetrievalConfig, items: pd.DataFrame | None) -> ItemTower:
    """The candidate tower over ``vocabs``, its category/title tables filled from ``items``."""
    tower = ItemTower(vocabs, config)
    tower.set_catalogue(items)
    return tower


def build_query_tower(
    vocabs: Vocabularies, config: RetrievalConfig, item_tower: ItemTower, user_features: np.ndarray
) -> QueryTower:
    """The query tower sharing ``item_tower``'s item vectors.

    Args:
        user_features: ``[n_user_rows, f]`` training profile matrix (NaN unknown); its column
            means and standard deviations standardise the features inside the tower.
    """
    with np.errstate(all="ignore"):
        mean = np.nan_to_num(np.nanmean(user_features, axis=0)) if user_features.size else np.zeros(0)
        std = np.nan_to_num(np.nanstd(user_features, axis=0)) if user_features.size else np.zeros(0)
    std = np.where(std > 0, std, 1.0)
    return QueryTower(vocabs, config, item_tower, mean.astype(np.float32), std.astype(np.float32))


def embedding_bytes(vocabs: Vocabularies, config: RetrievalConfig) -> int:
    """Memory the embedding tables need while training: values plus Adam's two slots, float32."""
    rows = len(vocabs.items) + len(vocabs.categories) + len(vocabs.title_tokens)
    if config.use_user_id:
        rows += len(vocabs.users)
    tables = rows * config.embedding_dim * 4 * 3
    item_tables = len(vocabs.items) * (config.title_length + 1) * 8
    return tables + item_tables
