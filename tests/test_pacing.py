"""The model's budget while the user is at the computer is spent evenly through the hour, not at its start."""

from gum.pacing import Pace


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def calls_in(pace: Pace, clock: Clock, seconds: int, *, active: bool = True) -> int:
    """Try a call every second for `seconds`, as an engine with endless work would; count those allowed."""
    made = 0
    for _ in range(seconds):
        if not active or pace.allows():
            pace.spend(1, active=active)
            made += 1
        clock.now += 1
    return made


def test_forty_an_hour_come_at_one_every_ninety_seconds_not_forty_in_the_first_minutes():
    clock = Clock()
    pace = Pace(40, clock=clock)
    assert calls_in(pace, clock, 600) == 7, "one at once, then one per 90 s: 10 minutes cost 7 calls, not 40"
    assert calls_in(pace, clock, 3000) == 33, "the hour as a whole stays within its 40"


def test_a_long_pause_earns_no_more_than_the_burst():
    clock = Clock()
    pace = Pace(40, burst=2, clock=clock)
    calls_in(pace, clock, 60)
    clock.now += 8 * 3600
    assert calls_in(pace, clock, 10) == 2


def test_calls_while_the_user_is_away_cost_nothing_and_an_overdraft_is_paid_back_first():
    clock = Clock()
    pace = Pace(40, clock=clock)
    assert calls_in(pace, clock, 300, active=False) == 300
    assert pace.allows(), "draining the backlog while away spent none of the active budget"
    pace.spend(3, active=True)  # one long observation read in three pieces
    assert not pace.allows()
    assert pace.wait_seconds() == 3 * 90
    clock.now += 3 * 90
    assert pace.allows()


def test_zero_means_no_limit():
    clock = Clock()
    pace = Pace(0, clock=clock)
    pace.spend(1000, active=True)
    assert pace.allows() and pace.wait_seconds() == 0


def test_counted_in_cpu_seconds_a_call_waits_for_its_expected_cost_so_dearer_calls_come_less_often():
    clock = Clock()
    cpu = Pace(360, burst=30, start=0.0, clock=clock)  # 6 CPU-minutes an hour
    assert not cpu.allows(12) and cpu.wait_seconds(12) == 120, "nothing earned yet: 12 CPU-s take 2 minutes"
    spent = 0.0
    for _ in range(3600):  # an hour of endless work, calls of 15 CPU-s expected at 12
        if cpu.allows(12):
            cpu.spend(15, active=True)
            spent += 15
        clock.now += 1
    assert spent <= 360 + 15, "the hour's CPU stays within its budget (one call's overdraft at most)"
    assert 20 <= spent / 15 <= 25, "at 15 CPU-s a call, ~24 calls an hour fit, not the 30 a count allows"
