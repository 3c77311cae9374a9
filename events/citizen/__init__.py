"""The citizen page's channel (/c/): reports filed by citizens from a phone browser, private follow links, ratings."""
