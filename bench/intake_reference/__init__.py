"""The intake benchmark's reference: a minimal Django + DRF project (one model, one view).

Not part of b2s. ``bench/intake.py`` runs it under the same gunicorn, database and load as b2s's
webhook endpoint: the view checks an HMAC-SHA256 of the raw body and inserts one row.
"""
