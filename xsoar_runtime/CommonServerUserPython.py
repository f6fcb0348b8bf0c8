"""Local stand-in for CommonServerUserPython.

On the server this is the place where an administrator may override CommonServerPython functions; it is empty by
default, and the server puts it between CommonServerPython and the integration in the one code string it runs.
"""
