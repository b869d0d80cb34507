"""A virtual MLPerf Tiny test rig: device, interface board and energy monitor on one emulated clock."""

DUT_ENERGY_BAUD = 9600  # the runner's devices_kws_ic_vww.yaml (and EEMBC's energy firmware)
