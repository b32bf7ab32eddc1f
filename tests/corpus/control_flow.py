"""Tricky control flow: jumps out of finally and with, loops in try, conditional imports, short-circuits."""

try:
    import tomllib as toml_reader
except ImportError:
    toml_reader = None

try:
    import does_not_exist_anywhere  # noqa: F401
except (
    ModuleNotFoundError,
):
    MISSING = True
else:
    MISSING = False


def loop_with_try(items):
    seen = []
    for item in items:
        try:
            if item is None:
                continue
            if item == "stop":
                break
            seen.append(int(item))
        except ValueError:
            seen.append(-1)
        finally:
            seen.append("f")
    return seen


def return_from_with(path_like):
    import contextlib

    with contextlib.nullcontext(path_like) as value:
        if value:
            return value
    return "empty"


def short_circuit(a, b):
    return (a and
            b) or (
        not a
        and "neither"
    )


def while_condition(limit):
    n = 0
    while (n < limit
           and n != 99):
        n += 1
    return n


def handler_types(exc):
    try:
        raise exc
    except KeyError:
        return "key"
    except (IndexError,
            ValueError):
        return "index or value"
    except RuntimeError as err:
        return str(err)


def default_args(x=[i for i in range(2)], y=lambda: "default"):
    return x, y()


def main():
    loop_with_try(["1", None, "x", "stop", "2"])
    return_from_with("")
    return_from_with("p")
    short_circuit(1, 0)
    while_condition(3)
    handler_types(ValueError())
    handler_types(RuntimeError("r"))
    default_args()
