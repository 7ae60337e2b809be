"""Market-abuse surveillance: detectors over the log (one module each), the scanner that runs
them, and the process that follows the log and sends what they find (docs/surveillance.md)."""
