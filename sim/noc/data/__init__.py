"""BookSim 2.0 reference curves (see README.md); a package so that installs ship the CSV files."""
