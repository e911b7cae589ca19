"""The MACs' dynamic energy, one formula for every path that prices MACs: the energy model
(energy/model.layer_energy), the packed problems the counting kernel prices (model/packed.py) and
the sweeps' whole-network kernel (model/network_kernel.py compiles this same function with Numba,
so the three round alike, bit for bit)."""


def mac_dynamic_pj(macs, mac_pj, activity):
    """`macs` MACs at `mac_pj` pJ each (at the operating point), scaled by their switching
    activity: a number, or an array of them (energy/activity.mac_activity_table)."""
    return macs * mac_pj * activity
