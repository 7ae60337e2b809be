"""Process managers: they follow the log like a projection and send ordinary commands to the
writer, with ids derived from what they follow (`copying.py`: copy trading)."""
