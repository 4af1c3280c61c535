"""Generated news: a fixture, not data. A CNN/DailyMail-shaped corpus written by templates (fluent, with
summaries that really follow from their articles), and a tiny GPT-2 pretrained on it in minutes, so that the
tests and the `synthetic` comparison have a model that learns the task without any download. Real language
comes from `summarization_data.bbc_news` and `model_loading.gguf`.
"""
