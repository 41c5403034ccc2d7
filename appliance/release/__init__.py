"""Fleet software releases (issue 17): one signed bundle file per release — the product's wheel, every
dependency's wheel for the booth's platform and a manifest of their hashes — built, signed and verified
with `kiosk release`."""
