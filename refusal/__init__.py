"""The refusal model shipped with Verbatim (model.json, fitted by eval/fit_refusal.py)."""
