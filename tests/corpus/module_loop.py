"""A module body with a loop: it keeps line events (a probe would record at every turn), and so do its classes."""

registry = {}
for name in ("alpha", "beta"):
    registry[name] = len(name)
    if name == "never":
        registry[name] = 0

while registry.get("alpha", 0) > 10:
    registry["alpha"] -= 1


class Plain:
    kind = "plain"
    if kind == "fancy":
        fancy = True

    class Nested:
        depth = 2


def lookup(key):
    if key in registry:
        return registry[key]
    return None


def main():
    lookup("alpha")
    Plain.Nested()
