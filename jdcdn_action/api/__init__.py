"""The JD APIs, two interchangeable backends."""
