"""N-body: the five Jovian planets integrated by symplectic Euler steps (after the Benchmarks Game)."""

from __future__ import annotations

PI = 3.14159265358979323
SOLAR_MASS = 4 * PI * PI
DAYS_PER_YEAR = 365.24


def bodies() -> list[list[float]]:
    """[x, y, z, vx, vy, vz, mass] for the sun, Jupiter, Saturn, Uranus and Neptune."""
    planets = [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, SOLAR_MASS],
        [4.84143144246472090e00, -1.16032004402742839e00, -1.03622044471123109e-01,
         1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR,
         -6.90460016972063023e-05 * DAYS_PER_YEAR, 9.54791938424326609e-04 * SOLAR_MASS],
        [8.34336671824457987e00, 4.12479856412430479e00, -4.03523417114321381e-01,
         -2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR,
         2.30417297573763929e-05 * DAYS_PER_YEAR, 2.85885980666130812e-04 * SOLAR_MASS],
        [1.28943695621391310e01, -1.51111514016986312e01, -2.23307578892655734e-01,
         2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR,
         -2.96589568540237556e-05 * DAYS_PER_YEAR, 4.36624404335156298e-05 * SOLAR_MASS],
        [1.53796971148509165e01, -2.59193146099879641e01, 1.79258772950371181e-01,
         2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR,
         -9.51592254519715870e-05 * DAYS_PER_YEAR, 5.15138902046611451e-05 * SOLAR_MASS],
    ]
    offset_momentum(planets)
    return planets


def offset_momentum(system: list[list[float]]) -> None:
    px = py = pz = 0.0
    for body in system:
        mass = body[6]
        px += body[3] * mass
        py += body[4] * mass
        pz += body[5] * mass
    sun = system[0]
    sun[3] = -px / SOLAR_MASS
    sun[4] = -py / SOLAR_MASS
    sun[5] = -pz / SOLAR_MASS


def pairs(system: list[list[float]]) -> list[tuple[list[float], list[float]]]:
    return [(system[i], system[j]) for i in range(len(system) - 1) for j in range(i + 1, len(system))]


def advance(system: list[list[float]], dt: float, steps: int) -> None:
    body_pairs = pairs(system)
    for _ in range(steps):
        for b1, b2 in body_pairs:
            dx = b1[0] - b2[0]
            dy = b1[1] - b2[1]
            dz = b1[2] - b2[2]
            distance2 = dx * dx + dy * dy + dz * dz
            mag = dt / (distance2 * distance2 ** 0.5)
            m1 = b1[6] * mag
            m2 = b2[6] * mag
            b1[3] -= dx * m2
            b1[4] -= dy * m2
            b1[5] -= dz * m2
            b2[3] += dx * m1
            b2[4] += dy * m1
            b2[5] += dz * m1
        for body in system:
            body[0] += dt * body[3]
            body[1] += dt * body[4]
            body[2] += dt * body[5]


def energy(system: list[list[float]]) -> float:
    e = 0.0
    for body in system:
        e += 0.5 * body[6] * (body[3] * body[3] + body[4] * body[4] + body[5] * body[5])
    for b1, b2 in pairs(system):
        dx = b1[0] - b2[0]
        dy = b1[1] - b2[1]
        dz = b1[2] - b2[2]
        e -= (b1[6] * b2[6]) / (dx * dx + dy * dy + dz * dz) ** 0.5
    return e


def simulate(steps: int, dt: float = 0.01) -> tuple[float, float]:
    """Energy before and after `steps` steps."""
    system = bodies()
    before = energy(system)
    advance(system, dt, steps)
    return before, energy(system)
