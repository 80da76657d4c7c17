"""The customer-service assistant: intents, out-of-scope rejection, slots, grounded answers, hand-over.

Trained every night (when support data is configured) by :mod:`ecom_tasks.assistant.stage`; served by
:func:`ecom_tasks.assistant.answers.answer` (``ecom ask``, the UI section).
"""
