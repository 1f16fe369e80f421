# The release this tree belongs to; each release overlay replaces this file.
RELEASE = "r01-baseline"
VERSION = "1.0.0"
