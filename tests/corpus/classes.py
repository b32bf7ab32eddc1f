"""Classes: attributes, inheritance, metaclasses, dataclasses, dunder methods, properties."""

from dataclasses import dataclass, field


class Meta(type):
    def __new__(mcs, name, bases, namespace):
        namespace.setdefault("registered", True)
        return super().__new__(mcs, name, bases, namespace)


class Base(metaclass=Meta):
    kind = "base"
    items = [
        1,
        2,
    ]

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"Base({self.value})"

    def __eq__(self, other):
        return isinstance(other, Base) and self.value == other.value

    __hash__ = None


class Child(Base):
    kind = "child"

    def __init__(self, value, extra=None):
        super().__init__(value)
        self.extra = extra

    @property
    def doubled(self):
        return self.value * 2


@dataclass(frozen=True)
class Frozen:
    name: str
    tags: list = field(default_factory=list)

    def describe(self):
        return self.name


class Empty:
    pass


class WithSlots:
    __slots__ = ("a",)

    def __init__(self):
        self.a = 1


def main():
    c = Child(2)
    c.doubled
    repr(c)
    Frozen("f").describe()
    Empty()
