"""Migrants (流动人口): in-migrants where they live, residence permits, out-migrants where they are registered, rental places and employers."""
