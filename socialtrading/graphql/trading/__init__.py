"""Trading: placing, cancelling and amending orders; the caller's orders and positions."""
