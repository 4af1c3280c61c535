"""Reference rows that need no model training: lead-3 here; zero-shot is `run_summarization.py --method zero-shot`."""
