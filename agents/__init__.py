"""RoboMamba and baseline agents behind one interface (issue: agents). Not implemented yet."""
