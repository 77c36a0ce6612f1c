def test_healthz(anon, db):
    response = anon.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": 0,
        "msg": "ok",
        "db": "ok",
        "cache": "ok",
        "channels": "ok",
    }


def test_the_migrations_match_the_models(db):
    """A model change without its migration would reach production as a schema that differs
    from the code's (tests build their database from the migrations)."""
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
