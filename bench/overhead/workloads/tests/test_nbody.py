from benchwork.nbody import simulate


def test_nbody_conserves_energy():
    before, after = simulate(125_000)
    assert round(before, 9) == -0.169075164
    assert abs(after - before) < 1e-4
