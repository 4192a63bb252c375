# Reference matches for trialeval.matching (tests/reference/test_matching_reference.py).
#
# Run from the repository root:  R_LIBS=<library with MatchIt >= 4.5.4> Rscript tests/reference/make_reference_matching.R
# Debian's r-cran-matchit 4.5.1 must NOT be used: its compiled matcher truncates distances to whole numbers.
# Build MatchIt from its public repository (https://github.com/kosukeimai/MatchIt; it needs chk >= 0.10.0,
# https://github.com/poissonconsulting/chk), e.g. R CMD INSTALL -l /tmp/Rlib chk MatchIt.
# Writes lalonde.csv (MatchIt's public data set, row order kept) and, at full precision (%.17g):
#   matching_reference_distance.csv  the logit propensity score of each row
#   matching_reference_matches.csv   case, treated row, slot, matched control row (1-based rows of lalonde.csv)
#   matching_reference_weights.csv   case, row, weight
suppressPackageStartupMessages(library(MatchIt))
stopifnot(packageVersion("MatchIt") >= "4.5.4")
dir <- "tests/reference"
data("lalonde", package = "MatchIt")
lalonde <- lalonde[, c("treat", "age", "educ", "race", "married", "nodegree", "re74", "re75", "re78")]
write.csv(lalonde, file.path(dir, "lalonde.csv"), row.names = FALSE)
lalonde <- read.csv(file.path(dir, "lalonde.csv"))
f <- treat ~ age + educ + race + married + nodegree + re74 + re75
cases <- list(
  nearest_1 = list(),
  caliper_0.2 = list(caliper = 0.2),
  ratio_2_caliper_0.25 = list(ratio = 2, caliper = 0.25),
  replace_1 = list(replace = TRUE),
  replace_3_caliper_0.1 = list(replace = TRUE, ratio = 3, caliper = 0.1),
  exact_race_caliper_0.3 = list(exact = ~race, caliper = 0.3),
  exact_married_ratio_2 = list(exact = ~married, ratio = 2)
)
fmt <- function(x) sprintf("%.17g", x)
matches <- list(); weights <- list(); distance <- NULL
for (name in names(cases)) {
  args <- c(list(formula = f, data = lalonde, method = "nearest", distance = "glm", link = "linear.logit"),
            cases[[name]])
  m <- do.call(matchit, args)
  if (is.null(distance)) distance <- m$distance
  mm <- m$match.matrix
  for (j in seq_len(ncol(mm))) {
    ok <- !is.na(mm[, j])
    matches[[length(matches) + 1]] <- data.frame(case = name, treated_row = as.integer(rownames(mm)[ok]),
                                                 slot = j, control_row = as.integer(mm[ok, j]))
  }
  weights[[length(weights) + 1]] <- data.frame(case = name, row = seq_len(nrow(lalonde)), weight = fmt(m$weights))
}
write.csv(data.frame(row = seq_len(nrow(lalonde)), distance = fmt(distance)),
          file.path(dir, "matching_reference_distance.csv"), row.names = FALSE)
write.csv(do.call(rbind, matches), file.path(dir, "matching_reference_matches.csv"), row.names = FALSE)
write.csv(do.call(rbind, weights), file.path(dir, "matching_reference_weights.csv"), row.names = FALSE)
