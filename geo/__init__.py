"""pingan's pure spatial computation and geo-file reading (no database, no HTTP, no folium)."""
