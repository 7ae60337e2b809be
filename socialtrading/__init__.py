"""InstantSocialTrading: an event-sourced social trading backend."""
