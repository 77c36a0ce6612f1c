"""The benchmark's budgets (issue 16; README, "Benchmark"): each endpoint's p50 as a multiple of
`/healthz`'s p50 at the largest scale, and the growth from the smallest scale to the largest.
run.py checks them and exits non-zero when one is missed, naming it.

A row's kind decides its ×healthz budget: the timeline (every variant of `/get_friend_post`) 5×;
any other read 3×, but `/recommend` 15× and the substring searches of `/get_data` none; the
writes that hash a password (Argon2id, ~100 ms by design) none; any other write 4×."""

HEALTHZ = "GET /healthz"
TIMELINE = 5.0
READ = 3.0
RECOMMEND = 15.0
WRITE = 4.0
# p50 at the largest scale ÷ p50 at the smallest, and the same number of queries at both
GROWTH = 1.5

# GET endpoints that write (a friendship, a deletion, a captcha in the cache)
WRITING_GETS = ("GET /set_friend", "GET /rm_friend", "GET /delPost", "GET /get_yzm")
# API.md: case-insensitive substring filters of /get_data (a scan of the matching index)
SUBSTRING_SEARCHES = ("GET /get_data?username=", "GET /get_data?like=", "GET /get_data?location=")
# they hash or verify a password with Argon2id
PASSWORD_HASHING = ("POST /register2", "POST /login", "POST /forget2", "POST /delete_account")


def vs_healthz_budget(endpoint):
    """The ×healthz budget of the row `endpoint` ("GET /get_friend_post?group=", …), or None."""
    if endpoint == HEALTHZ or endpoint in SUBSTRING_SEARCHES or endpoint in PASSWORD_HASHING:
        return None
    if endpoint.startswith("GET /get_friend_post"):
        return TIMELINE
    if endpoint.startswith("GET /recommend"):
        return RECOMMEND
    if endpoint.startswith("GET ") and endpoint not in WRITING_GETS:
        return READ
    return WRITE


def missed(rows):
    """What run.py's `rows` miss, one line each: ×healthz at the largest scale, growth, and
    query counts that differ between the scales (growth only when there are two scales)."""
    found = []
    for row in rows:
        endpoint, ratio = row["endpoint"], row["vs_healthz_p50"][-1]
        budget = vs_healthz_budget(endpoint)
        if budget is not None and ratio is not None and ratio > budget:
            found.append(f"{endpoint}: {ratio}× /healthz (budget {budget:g}×)")
        if len(row["p50_ms"]) < 2:
            continue
        growth = row["growth_p50"]
        if growth is not None and growth > GROWTH:
            found.append(f"{endpoint}: growth {growth} (budget {GROWTH:g})")
        if len(set(row["queries"])) > 1:
            counts = " / ".join(str(count) for count in row["queries"])
            found.append(f"{endpoint}: {counts} queries (the same at every scale)")
    return found
