# The release this tree belongs to; each release overlay replaces this file.
RELEASE = "r06-drop-financial-column"
VERSION = "2.0.0"
