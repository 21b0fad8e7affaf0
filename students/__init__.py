"""SB3 students: building them from config, the curriculum bridge, evaluation."""
