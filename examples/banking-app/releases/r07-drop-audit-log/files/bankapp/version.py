# The release this tree belongs to; each release overlay replaces this file.
RELEASE = "r07-drop-audit-log"
VERSION = "2.0.0"
