# Reference values for the two-period difference in differences of a target population
# (trialeval.target.did_estimate; tests/test_target_reference.py).
#
# Run from the repository root:   Rscript tests/reference/make_reference_target.R
# Needs estimatr. Simulates person-period rows of two calendar periods at 14 sites of unequal size
# (6 programme sites, 8 others; some persons in both periods, some in one), writes them, reads them back,
# and fits per outcome
#   lm_robust(y ~ group * after, clusters = site, se_type = "CR2")
# Writes, at full precision (%.17g):
#   target_did_rows.csv        person_id, site, group (1 = programme sites), after (1 = the after period),
#                              on_benefit (0/1 outcome), hours (a continuous outcome)
#   target_did_reference.csv   outcome, estimate, std_error, df, conf_low, conf_high, p_value of group:after
suppressPackageStartupMessages(library(estimatr))
dir <- "tests/reference"
set.seed(20161024)
fmt <- function(df) {
  for (j in seq_along(df)) if (is.double(df[[j]])) df[[j]] <- ifelse(is.na(df[[j]]), NA, sprintf("%.17g", df[[j]]))
  df
}

sites <- sprintf("S%02d", 1:14)
programme <- c(rep(1, 6), rep(0, 8))
size <- c(12, 30, 7, 22, 15, 40, 9, 25, 33, 11, 18, 26, 8, 20)
site_effect <- rnorm(14, 0, 0.4)
rows <- list()
pid <- 0
for (s in seq_along(sites)) {
  for (i in seq_len(size[s])) {
    pid <- pid + 1
    periods <- switch(sample(1:3, 1, prob = c(0.6, 0.2, 0.2)), c(0, 1), 0, 1)
    for (a in periods) {
      latent <- -0.3 + site_effect[s] + 0.5 * a - 0.6 * a * programme[s] + rnorm(1)
      rows[[length(rows) + 1]] <- data.frame(
        person_id = sprintf("P%04d", pid), site = sites[s], group = programme[s], after = a,
        on_benefit = as.integer(latent > 0),
        hours = round(max(0, 12 + 4 * site_effect[s] + 3 * a + 5 * a * programme[s] + rnorm(1, 0, 8)), 2))
    }
  }
}
data <- do.call(rbind, rows)
write.csv(fmt(data), file.path(dir, "target_did_rows.csv"), row.names = FALSE, quote = FALSE)
data <- read.csv(file.path(dir, "target_did_rows.csv"), colClasses = c(person_id = "character", site = "character"))

out <- do.call(rbind, lapply(c("on_benefit", "hours"), function(y) {
  fit <- lm_robust(as.formula(paste(y, "~ group * after")), data = data, clusters = site, se_type = "CR2")
  t <- tidy(fit)
  r <- t[t$term == "group:after", ]
  data.frame(outcome = y, estimate = r$estimate, std_error = r$std.error, df = r$df, conf_low = r$conf.low,
             conf_high = r$conf.high, p_value = r$p.value)
}))
write.csv(fmt(out), file.path(dir, "target_did_reference.csv"), row.names = FALSE, quote = FALSE)
