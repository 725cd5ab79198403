/**
 * Cmdlets the beacon scripts may call: each exists in Windows PowerShell 5.1 as Windows Server 2016 ships it
 * (modules Microsoft.PowerShell.Core / Management / Utility / Security, CimCmdlets, ScheduledTasks,
 * Microsoft.PowerShell.LocalAccounts). The AST check in test/ssm/powershell-compat.test.ts refuses any
 * command in a shipped script that is neither one of these nor a function the scripts define: a cmdlet
 * that only PowerShell 7 has (Join-String, Test-Json, Get-Error, ...) fails there, not on a beacon.
 * Add a cmdlet here only after checking it is in 5.1 on Server 2016.
 */
export const WINDOWS_POWERSHELL_51_CMDLETS = [
  // Microsoft.PowerShell.Core
  'ForEach-Object', 'Where-Object', 'Set-StrictMode', 'Get-Command', 'Get-Module', 'Import-Module', 'Out-Null', 'Out-String', 'Get-Help',
  // Microsoft.PowerShell.Management
  'Join-Path', 'Split-Path', 'Test-Path', 'New-Item', 'Remove-Item', 'Get-Item', 'Get-ChildItem', 'Get-Content', 'Set-Content', 'Get-ItemProperty',
  'Get-Service', 'Start-Service', 'Stop-Service', 'Get-Process', 'Get-Acl', 'Set-Acl', 'Resolve-Path', 'Get-Location',
  // Microsoft.PowerShell.Utility
  'New-Object', 'Add-Type', 'Select-Object', 'Sort-Object', 'Measure-Object', 'Group-Object', 'ConvertFrom-Json', 'ConvertTo-Json',
  'Start-Sleep', 'Get-Date', 'Write-Output', 'Write-Verbose', 'Write-Warning', 'Remove-TypeData', 'Remove-Variable', 'Get-Variable',
  'Set-Variable', 'Invoke-WebRequest', 'Invoke-RestMethod', 'Get-Random', 'Format-List', 'Format-Table',
  // CimCmdlets
  'Get-CimInstance', 'Invoke-CimMethod',
  // ScheduledTasks
  'Get-ScheduledTask', 'Set-ScheduledTask', 'New-ScheduledTaskPrincipal',
  // Microsoft.PowerShell.LocalAccounts (5.1 only on Windows Server 2016 and later)
  'Get-LocalUser', 'New-LocalUser', 'Remove-LocalUser', 'Get-LocalGroupMember',
] as const;
