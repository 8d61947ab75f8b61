//! Lab 4 graded end to end (in progress).
