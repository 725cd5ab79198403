# Concern: the principals of the upload scheduled tasks (required by name or alias, optional when present).
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

# Required tasks by name or alias, optional tasks when present. Returns the found tasks in plan order.
function Find-BpBeaconTasks($State, [switch]$AllowMissing) {
    $found = New-Object System.Collections.ArrayList
    $missing = New-Object System.Collections.ArrayList
    foreach ($name in @($State.tasks)) {
        $candidates = @($name)
        if ($State.taskAliases -and $State.taskAliases.Contains($name)) { $candidates += @($State.taskAliases[$name]) }
        $hit = $null
        foreach ($candidate in $candidates) {
            $tasks = @(Find-BpTask $candidate)
            if ($tasks.Count -gt 0) { $hit = $tasks; break }
        }
        if ($null -eq $hit) { [void]$missing.Add($name) } else { foreach ($task in $hit) { [void]$found.Add($task) } }
    }
    foreach ($name in @($State.optionalTasks)) {
        foreach ($task in @(Find-BpTask $name)) { [void]$found.Add($task) }
    }
    if ($missing.Count -gt 0 -and -not $AllowMissing) {
        throw (New-BpError 'TASK_NOT_FOUND' ('required scheduled task not found: ' + ($missing -join ', ') + '; add its name to the task list if this beacon version names it differently'))
    }
    return [ordered]@{ found = $found.ToArray(); missing = $missing.ToArray() }
}

# The task scheduler may give the principal as a SID or as DOMAIN\name: report (and capture) the name.
function Get-BpTaskEntry($Entry) {
    foreach ($task in @(Find-BpTask $Entry.taskName)) {
        if ($task.path -eq $Entry.taskPath) {
            $userId = $task.userId
            if ($userId -match '^S-1-\d') { $account = Resolve-BpAccount $userId; if ($null -ne $account) { $userId = $account.name } }
            return [ordered]@{ userId = $userId; logonType = $task.logonType; runLevel = $task.runLevel }
        }
    }
    return $null
}

function Test-BpTaskEntry($Entry, $Actual, $Expected, [bool]$Exact) {
    if ($null -eq $Expected -or $null -eq $Actual) { return ($null -eq $Expected -and $null -eq $Actual) }
    if ($Actual.logonType -ne $Expected.logonType) { return $false }
    if ($Expected.Contains('runLevel') -and $Expected.runLevel -and $Actual.runLevel -ne $Expected.runLevel) { return $false }
    return (Test-BpSameAccount $Actual.userId $Expected.userId)
}

# The account is an administrator, so the tasks run with the highest privileges (a Limited token would
# strip its administrator rights). A restore puts back the captured principal, with the previous
# account's password when the request named its secret.
function Set-BpTaskEntry($Entry, $Value, [bool]$Restore) {
    $runLevel = 'Highest'
    if ($Value.Contains('runLevel') -and $Value.runLevel) { $runLevel = $Value.runLevel }
    $password = $null
    if (-not $Restore) { $password = $script:BpPassword }
    elseif ($Value.logonType -eq 'Password') { $password = Get-BpPreviousPassword $Value.userId }
    Set-BpTaskPrincipal $Entry.taskPath $Entry.taskName $Value.userId $Value.logonType $runLevel $password
}

# A task's principal for people: `CORP\svc-beacon (Password, run level Highest)`, or `absent`.
function Format-BpTaskValue($Value) {
    if ($null -eq $Value) { return 'absent' }
    $text = (Format-BpAccountName ([string]$Value.userId)) + ' (' + [string]$Value.logonType
    if ($Value.Contains('runLevel') -and $Value.runLevel) { $text += ', run level ' + [string]$Value.runLevel }
    return $text + ')'
}
