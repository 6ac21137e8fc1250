"""Input and output shapes of the API (the schema integrators read is generated from them).

One module per concern (``members``, ``orders``, ``program``) on the shared ``fields``; the
coupons' shapes are the rewards app's (``rewards.api.serializers``).
"""
