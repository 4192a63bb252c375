# Writes population.sas7bdat, a tiny population file for the SAS reader test (tests/test_io.py),
# with a municipality column under its Danish name to exercise the [columns] mapping.
# Run from this folder: Rscript make_population_sas.R   (needs Debian's r-cran-haven)
library(haven)
pop <- data.frame(
  person_id = c("007", "010", "003"),
  kommune = c("A", "B", "A"),
  age = c(31, 45, 52),
  stringsAsFactors = FALSE
)
suppressWarnings(write_sas(pop, "population.sas7bdat"))
