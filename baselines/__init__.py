"""Reference rows that need no model training: lead-N (lead-1, lead-3) here; zero-shot is `run_summarization.py --method zero-shot`."""
