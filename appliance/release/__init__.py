"""Fleet software releases (issue 17): one signed bundle file per release — the product's wheel, every
dependency's wheel for the booth's platform and a manifest of their hashes — built, signed and verified
with `kiosk release`. On the booth, `fetch.ReleaseFetcher` takes central's signed offer and fetches over
MQTT, in paced chunks, only the wheels the booth lacks (offer.py, chunks.py, pacing.py, staging.py), and
stages them for the root-side installer."""
