# The release this tree belongs to; each release overlay replaces this file.
RELEASE = "r08-irreversible"
VERSION = "1.1.1"
