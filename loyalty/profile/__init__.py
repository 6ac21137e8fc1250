"""The customer's profile page: balance, rewards, tier, history; passwordless sign-in."""
