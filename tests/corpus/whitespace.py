"""Tabs for indentation and form feeds between sections, as in older code bases."""


def tabbed(x):
	if x:
		return "tab"
	else:
		return "no tab"



def mixed_continuation(a,
		b):
	return (a +
		b)



class Section:
	def method(self):
		return 1

	def unused(self):
		return 2


def main():
	tabbed(True)
	mixed_continuation(1, 2)
	Section().method()
