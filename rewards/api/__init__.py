"""The rewards' part of the integrator API: coupons at checkout, a member's coupons, rewards
claimed (``views``, with their shapes in ``serializers``)."""
