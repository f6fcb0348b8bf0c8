"""`python -m bench` (`make bench`): request counts, wall time and memory of the integration against the emulator.

Every scenario runs twice in the same run - our way and the naive way - each in its own measured process:

* `bench.probe` runs one command through `xsoar_runner` (as the XSOAR server would) and reports what it imported, its
  peak memory and how long it slept (throttling waits);
* `bench.naive` runs the naive way through the integration's own commands: 100 users per page, one request per
  user, a full read instead of delta;
* `bench.import_time` times importing the integration, with and without msal / cryptography / pyzipper.

`bench.main` drives them against a 50,000-user emulator, prints one table, writes `bench/results.md` and exits 1
when a request budget of the issue is missed.
"""
