"""A virtual MLPerf Tiny test rig: device, interface board and energy monitor on one emulated clock."""
