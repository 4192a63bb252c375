# Reference values for trialeval.balance (issue 3), computed with base R.
#
# Run from the repository root:   Rscript tests/reference/make_reference_balance.R
# Writes the inputs   tests/reference/balance_ledger.csv, balance_population.csv
# and the references  tests/reference/balance_reference.csv              (per covariate / level)
#                     tests/reference/balance_reference_omnibus.csv      (F-tests, with and without block FE)
#                     tests/reference/balance_reference_representativeness.csv
# Numbers are written with %.17g. The inputs are simulated, written, and read back before any statistic
# is computed, so R and Python start from the same text.
#
# Choices matched by trialeval:
#   * SMD = (mean_T - mean_C) / sqrt((s2_T + s2_C) / 2); sample variances for continuous covariates,
#     p(1 - p) for the shares of binary covariates and of the levels of categorical ones.
#   * continuous: t.test(var.equal = FALSE) (Welch);
#   * binary / categorical: chisq.test(correct = FALSE) (Pearson, no Yates correction), except
#     fisher.test for a 2 x 2 table with an expected count below 5.
#   * F-test of joint orthogonality: anova(lm(d ~ 1), lm(d ~ covariates)) on complete cases, and
#     anova(lm(d ~ block), lm(d ~ block + covariates)) with block = municipality x stratum.

dir <- "tests/reference"
set.seed(20160301)

# ---- simulate and write the inputs ------------------------------------------------------------------
n <- 160
municipality <- rep(c("Aarhus", "Odense"), each = n / 2)
prior_benefit <- rbinom(n, 1, 0.4)
stratum <- paste0("prior_benefit=", prior_benefit)
block <- paste(municipality, stratum)
arm <- character(n)
for (b in unique(block)) {
  idx <- which(block == b)
  k <- length(idx)
  arm[idx] <- sample(rep(c("treatment", "control"), length.out = k))
}
age <- round(rnorm(n, 44, 8))
age[sample(n, 6)] <- NA
income <- round(exp(rnorm(n, 9, 0.6)), 2)
female <- runif(n) < 0.55
female[sample(n, 3)] <- NA
prior_activation <- as.integer(runif(n) < 0.04)
education <- sample(c("basic", "upper", "tertiary"), n, replace = TRUE, prob = c(0.5, 0.3, 0.2))
education[sample(n, 5)] <- NA
origin <- sample(c("danish", "immigrant"), n, replace = TRUE, prob = c(0.75, 0.25))
ledger <- data.frame(
  person_id = sprintf("P%04d", seq_len(n)), arm = arm, visitation_date = "2016-03-01",
  municipality = municipality, stratum = stratum, wave = 1L, excluded = FALSE,
  age = age, income = income, female = female, prior_activation = prior_activation,
  prior_benefit = prior_benefit, education = education, origin = origin,
  stringsAsFactors = FALSE
)
write.csv(ledger, file.path(dir, "balance_ledger.csv"), row.names = FALSE, na = "")

m <- 240  # candidates never drawn; older and more often on prior benefit than the drawn
pop_new <- data.frame(
  person_id = sprintf("Q%04d", seq_len(m)),
  municipality = sample(c("Aarhus", "Odense"), m, replace = TRUE),
  activation_ready = runif(m) < 0.8,
  age = round(rnorm(m, 47, 9)), income = round(exp(rnorm(m, 9.1, 0.6)), 2),
  female = runif(m) < 0.5, prior_activation = as.integer(runif(m) < 0.06),
  prior_benefit = rbinom(m, 1, 0.5),
  education = sample(c("basic", "upper", "tertiary"), m, replace = TRUE, prob = c(0.55, 0.3, 0.15)),
  origin = sample(c("danish", "immigrant"), m, replace = TRUE, prob = c(0.7, 0.3)),
  stringsAsFactors = FALSE
)
pop_new$age[sample(m, 4)] <- NA
pop_drawn <- data.frame(person_id = ledger$person_id, municipality = ledger$municipality,
                        activation_ready = TRUE, ledger[, c("age", "income", "female", "prior_activation",
                                                            "prior_benefit", "education", "origin")])
population <- rbind(pop_drawn, pop_new)
write.csv(population, file.path(dir, "balance_population.csv"), row.names = FALSE, na = "")

# ---- read back and compute ------------------------------------------------------------------------
ledger <- read.csv(file.path(dir, "balance_ledger.csv"), stringsAsFactors = FALSE, na.strings = "")
population <- read.csv(file.path(dir, "balance_population.csv"), stringsAsFactors = FALSE, na.strings = "")

continuous <- c("age", "income")
binary <- c("female", "prior_activation", "prior_benefit")
categorical <- c("education", "origin")
covariates <- c(continuous, binary, categorical)

# one block of rows per covariate: group g (TRUE = first group) vs the rest
compare <- function(df, g) {
  rows <- list()
  for (v in covariates) {
    x <- df[[v]]
    miss_a <- sum(is.na(x[g])); miss_b <- sum(is.na(x[!g]))
    if (v %in% continuous) {
      a <- x[g & !is.na(x)]; b <- x[!g & !is.na(x)]
      d <- mean(a) - mean(b)
      rows[[length(rows) + 1]] <- data.frame(
        covariate = v, level = "", mean_a = mean(a), mean_b = mean(b), difference = d,
        smd = d / sqrt((var(a) + var(b)) / 2), variance_ratio = var(a) / var(b),
        p_value = t.test(a, b, var.equal = FALSE)$p.value, test = "welch_t",
        n_missing_a = miss_a, n_missing_b = miss_b, stringsAsFactors = FALSE)
    } else {
      if (v %in% binary) {
        lev <- if (is.logical(x)) "true" else "1"
        x <- ifelse(is.na(x), NA, ifelse(as.integer(x) == 1L, lev, "0"))
        report <- lev
      } else {
        report <- sort(unique(x[!is.na(x)]))
      }
      keep <- !is.na(x)
      tab <- table(x[keep], g[keep])
      expected <- outer(rowSums(tab), colSums(tab)) / sum(tab)
      if (nrow(tab) == 2 && any(expected < 5)) {
        p <- fisher.test(tab)$p.value; test <- "fisher_exact"
      } else {
        p <- chisq.test(tab, correct = FALSE)$p.value; test <- "chi_square"
      }
      for (l in report) {
        pa <- mean(x[g & keep] == l); pb <- mean(x[!g & keep] == l)
        d <- pa - pb
        rows[[length(rows) + 1]] <- data.frame(
          covariate = v, level = l, mean_a = pa, mean_b = pb, difference = d,
          smd = d / sqrt((pa * (1 - pa) + pb * (1 - pb)) / 2),
          variance_ratio = (pa * (1 - pa)) / (pb * (1 - pb)), p_value = p, test = test,
          n_missing_a = miss_a, n_missing_b = miss_b, stringsAsFactors = FALSE)
      }
    }
  }
  do.call(rbind, rows)
}

write_full <- function(df, path) {
  num <- vapply(df, is.double, logical(1))
  df[num] <- lapply(df[num], function(col) sprintf("%.17g", col))
  write.csv(df, path, row.names = FALSE, quote = TRUE)
}

treated <- ledger$arm == "treatment"
bal <- compare(ledger, treated)
names(bal) <- sub("_a$", "_treatment", sub("_b$", "_control", names(bal)))
write_full(bal, file.path(dir, "balance_reference.csv"))

# omnibus F-tests on complete cases
ledger$d <- as.numeric(treated)
ledger$block <- factor(paste(ledger$municipality, ledger$stratum, sep = "|"))
ledger$education <- factor(ledger$education)
ledger$origin <- factor(ledger$origin)
cc <- ledger[complete.cases(ledger[, covariates]), ]
f_row <- function(model, m0, m1) {
  a <- anova(m0, m1)
  data.frame(model = model, statistic = a$F[2], df1 = a$Df[2], df2 = a$Res.Df[2],
             p_value = a$`Pr(>F)`[2], n_used = nrow(cc), n_dropped = nrow(ledger) - nrow(cc),
             stringsAsFactors = FALSE)
}
rhs <- paste(covariates, collapse = " + ")
m1 <- lm(as.formula(paste("d ~", rhs)), data = cc)
fs <- summary(m1)$fstatistic  # the same F as anova(intercept only, m1)
stopifnot(abs(fs[["value"]] - anova(lm(d ~ 1, data = cc), m1)$F[2]) < 1e-10)
m1fe <- lm(as.formula(paste("d ~ block +", rhs)), data = cc)
omni <- rbind(f_row("f_test", lm(d ~ 1, data = cc), m1),
              f_row("f_test_strata_fe", lm(d ~ block, data = cc), m1fe))
write_full(omni, file.path(dir, "balance_reference_omnibus.csv"))

# representativeness: drawn (both arms) vs eligible (activation_ready) candidates not drawn
eligible <- population[population$activation_ready %in% TRUE, ]
not_drawn <- eligible[!(eligible$person_id %in% ledger$person_id), ]
both <- rbind(read.csv(file.path(dir, "balance_ledger.csv"), stringsAsFactors = FALSE,
                       na.strings = "")[, covariates], not_drawn[, covariates])
rep <- compare(both, c(rep(TRUE, nrow(ledger)), rep(FALSE, nrow(not_drawn))))
names(rep) <- sub("_a$", "_drawn", sub("_b$", "_not_drawn", names(rep)))
write_full(rep, file.path(dir, "balance_reference_representativeness.csv"))
cat("wrote balance reference files to", dir, "\n")
