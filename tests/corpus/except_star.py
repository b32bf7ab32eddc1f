"""Exception groups and except* (Python 3.11+)."""
# covlens-corpus: requires 3.11


def group():
    try:
        raise ExceptionGroup("many", [ValueError(1), TypeError(2)])
    except* ValueError as eg:
        values = eg.exceptions
    except* TypeError:
        types = True
    except* KeyError:
        never = True


def none_raised():
    try:
        value = 1
    except* ValueError:
        value = 2
    return value


def main():
    group()
    none_raised()
