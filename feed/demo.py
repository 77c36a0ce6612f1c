"""The demo accounts `manage.py seed_demo` makes, which the benchmark and the load test log in as.

Demo users are `DEMO_EMAIL` and the addresses at `DEMO_DOMAIN`, a reserved domain (nobody can
receive a sign-up code there); all share `DEMO_PASSWORD`, which is public. Plain constants, so
that bench/ imports them without setting Django up."""

DEMO_EMAIL = "demo@example.com"
DEMO_DOMAIN = "demo.example.com"
DEMO_PASSWORD = "demo-password-2026"
DEMO_USERS = 200  # what `seed_demo` makes by default, hence what `make run`'s setup seeds
