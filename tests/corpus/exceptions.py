"""try/except/else/finally: matching and non-matching handlers, bare except, re-raise, raise from."""


class AppError(Exception):
    pass


def divide(a, b):
    try:
        result = a / b
    except TypeError:
        return "type"
    except (ZeroDivisionError,
            OverflowError) as exc:
        return f"math {exc}"
    except Exception:
        raise
    else:
        return result
    finally:
        done = True


def reraise():
    try:
        raise KeyError("k")
    except KeyError as exc:
        raise AppError("wrapped") from exc


def bare():
    try:
        {}["missing"]
    except:  # noqa: E722
        return "bare"


def never_raises():
    try:
        value = 1
    except ValueError:
        value = 2
    except (
        KeyError
    ):
        value = 3
    return value


def finally_return():
    try:
        return "body"
    finally:
        print_it = False
        if print_it:
            print("never")


def nested():
    try:
        try:
            raise ValueError("inner")
        except KeyError:
            return "wrong"
        finally:
            cleanup = 1
    except ValueError:
        return "outer"


def main():
    divide(1, 2)
    divide(1, 0)
    try:
        reraise()
    except AppError:
        pass
    bare()
    never_raises()
    finally_return()
    nested()
