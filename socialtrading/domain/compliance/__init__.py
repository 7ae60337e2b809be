"""The compliance domain: surveillance alerts and the cases analysts work on them."""
