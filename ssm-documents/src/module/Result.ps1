# The one JSON result line every document prints, its checks, its diff and its error.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function New-BpCheck([string]$Name, $Expected, $Actual, [bool]$Ok) {
    return [ordered]@{ name = $Name; expected = $Expected; actual = $Actual; ok = $Ok }
}

function New-BpResult([string]$Kind) {
    return [ordered]@{
        ok = $false; document = $Kind; requestId = $null
        changed = (New-Object System.Collections.ArrayList); checks = (New-Object System.Collections.ArrayList)
        diff = (New-Object System.Collections.ArrayList)
        beaconVersion = $null; captureId = $null; error = $null; rollback = $null
        tasksFound = (New-Object System.Collections.ArrayList); warnings = (New-Object System.Collections.ArrayList)
    }
}

# One change for people: the entry's values before and after, rendered by its concern (Format-BpDiffValue).
function Add-BpDiffText($Diff, [string]$Id, [string]$Before, [string]$After) {
    if ($null -eq $Diff) { return }
    [void]$Diff.Add([ordered]@{ id = $Id; before = $Before; after = $After })
}

function Add-BpDiff($Diff, $Entry, $Before, $After, [string]$Role) {
    if ($null -eq $Diff) { return }
    $beforeText = Format-BpDiffValue $Entry $Before 'before'
    $afterText = Format-BpDiffValue $Entry $After $Role
    # A logon set again for a rotated secret reads the same before and after: say what changed.
    if ($beforeText -ceq $afterText -and $Role -eq 'after' -and $script:BpCredentialRotated) { $afterText = $afterText + ' (credential updated)' }
    Add-BpDiffText $Diff $Entry.id $beforeText $afterText
}

function Set-BpResultError($Result, $ErrorRecord) {
    $code = 'UNEXPECTED'
    if ($ErrorRecord.Exception.Data.Contains('BpCode')) { $code = [string]$ErrorRecord.Exception.Data['BpCode'] }
    else { [Console]::Error.WriteLine('beacon-proxy: unexpected error at ' + $ErrorRecord.InvocationInfo.PositionMessage + "`n" + $ErrorRecord.ScriptStackTrace) }
    $Result.error = [ordered]@{ code = $code; message = (Protect-BpText $ErrorRecord.Exception.Message); step = $script:BpStep }
}

# $Text cut to $Keep characters and the marker of the contract (`...[+N chars]`).
function Limit-BpText([string]$Text, [int]$Keep) {
    if ($null -eq $Text -or $Text.Length -le $Keep) { return $Text }
    return $Text.Substring(0, $Keep) + $script:BpFacts.result.trimBefore + ($Text.Length - $Keep) + $script:BpFacts.result.trimAfter
}

# A check value within $Keep characters: scalars stay as they are, a long text or structure becomes trimmed text.
function Limit-BpValue($Value, [int]$Keep) {
    if ($null -eq $Value -or $Value -is [bool] -or $Value -is [int] -or $Value -is [long] -or $Value -is [double]) { return $Value }
    if ($Value -is [string]) { return Limit-BpText $Value $Keep }
    $json = ConvertTo-BpJson $Value
    if ($json.Length -le $Keep) { return $Value }
    return Limit-BpText $json $Keep
}

function Get-BpValueLength($Value) {
    if ($null -eq $Value) { return 0 }
    if ($Value -is [string]) { return $Value.Length }
    return (ConvertTo-BpJson $Value).Length
}

function Limit-BpDiff($Diff, [int]$Keep) {
    $list = New-Object System.Collections.ArrayList
    foreach ($change in @($Diff)) { [void]$list.Add([ordered]@{ id = $change.id; before = (Limit-BpText $change.before $Keep); after = (Limit-BpText $change.after $Keep) }) }
    return , $list.ToArray()
}

# A copy of the result whose check values and diff values are cut to the caps; $FailedOnly keeps only the
# failed checks and says how many others were left out.
function New-BpFittedResult($Result, [int]$CheckCap, [int]$DiffCap, [bool]$FailedOnly) {
    $copy = [ordered]@{}
    foreach ($key in $Result.Keys) { $copy[$key] = $Result[$key] }
    $checks = @($Result.checks)
    if ($FailedOnly) {
        $failed = @($checks | Where-Object { -not $_.ok })
        $copy.checksOmitted = $checks.Count - $failed.Count
        $checks = $failed
    }
    $list = New-Object System.Collections.ArrayList
    foreach ($check in $checks) { [void]$list.Add((New-BpCheck $check.name (Limit-BpValue $check.expected $CheckCap) (Limit-BpValue $check.actual $CheckCap) $check.ok)) }
    $copy.checks = $list.ToArray()
    $copy.diff = Limit-BpDiff $Result.diff $DiffCap
    if ($null -ne $Result.rollback -and $Result.rollback.Contains('diff')) {
        $rollback = [ordered]@{}
        foreach ($key in $Result.rollback.Keys) { $rollback[$key] = $Result.rollback[$key] }
        $rollback.diff = Limit-BpDiff $Result.rollback.diff $DiffCap
        $copy.rollback = $rollback
    }
    return $copy
}

function Get-BpResultText($Result) { return Protect-BpText (ConvertTo-BpJson $Result) }

# The largest cap in [$Low, $High] for which $Build (a cap -> a line) fits $Max, or $null when $Low does not.
function Find-BpFittingLine([int]$Low, [int]$High, [int]$Max, [scriptblock]$Build) {
    $line = & $Build $Low
    if ($line.Length -gt $Max) { return $null }
    while ($Low -lt $High) {
        $middle = [int][Math]::Ceiling(($Low + $High) / 2)
        $candidate = & $Build $middle
        if ($candidate.Length -le $Max) { $Low = $middle; $line = $candidate } else { $High = $middle - 1 }
    }
    return $line
}

# The line within the budget of the contract: check values are trimmed first, then diff values (each keeps
# at least the minimum); only then are passing checks left out. A diff entry is never dropped.
function Get-BpFittedLine($Result) {
    $max = [int]$script:BpFacts.result.maxLength
    $min = [int]$script:BpFacts.result.minValueLength
    $longestCheck = $min
    foreach ($check in @($Result.checks)) { $longestCheck = [Math]::Max($longestCheck, [Math]::Max((Get-BpValueLength $check.expected), (Get-BpValueLength $check.actual))) }
    $longestDiff = $min
    $changes = @($Result.diff)
    if ($null -ne $Result.rollback -and $Result.rollback.Contains('diff')) { $changes += @($Result.rollback.diff) }
    foreach ($change in $changes) { $longestDiff = [Math]::Max($longestDiff, [Math]::Max(([string]$change.before).Length, ([string]$change.after).Length)) }

    $line = Find-BpFittingLine $min $longestCheck $max { param($cap) Get-BpResultText (New-BpFittedResult $Result $cap $longestDiff $false) }
    if ($null -ne $line) { return $line }
    $line = Find-BpFittingLine $min $longestDiff $max { param($cap) Get-BpResultText (New-BpFittedResult $Result $min $cap $false) }
    if ($null -ne $line) { return $line }
    $line = Find-BpFittingLine $min $longestDiff $max { param($cap) Get-BpResultText (New-BpFittedResult $Result $min $cap $true) }
    if ($null -ne $line) { return $line }
    return Get-BpResultText (New-BpFittedResult $Result $min $min $true)
}

# Prints the one result line and returns the exit code. Keeps the line within the result budget.
function Write-BpResult($Result) {
    try { $Result.beaconVersion = Get-BpBeaconVersion } catch { $Result.beaconVersion = $null }
    $line = Get-BpResultText $Result
    if ($line.Length -gt [int]$script:BpFacts.result.maxLength) { $line = Get-BpFittedLine $Result }
    [Console]::Out.WriteLine($line)
    if ($Result.ok) { return 0 }
    return 1
}
