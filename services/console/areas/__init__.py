"""The registry's area tree and each area's summary, as officers read them."""
